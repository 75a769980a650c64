"""``python -m payments``: serve the payments service."""

from payments import main
from warren.runtime import run

if __name__ == "__main__":
    run(main.build)
