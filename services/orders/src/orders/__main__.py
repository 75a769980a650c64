"""``python -m orders``: serve the orders service."""

from orders import main
from warren.runtime import run

if __name__ == "__main__":
    run(main.build)
