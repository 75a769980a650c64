"""``python -m inventory``: serve the inventory service."""

from inventory import main
from warren.runtime import run

if __name__ == "__main__":
    run(main.build)
