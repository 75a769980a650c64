"""``python -m notifications``: serve the notifications service."""

from notifications import main
from warren.runtime import run

if __name__ == "__main__":
    run(main.build)
