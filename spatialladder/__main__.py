"""`python -m spatialladder` and `accelerate launch -m spatialladder` entry point."""

from spatialladder.cli import main

if __name__ == "__main__":
    main()
