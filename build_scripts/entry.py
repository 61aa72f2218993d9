"""PyInstaller entry point: the frozen app is the `hcc` command."""

from human_chat_completions.cli import main

if __name__ == "__main__":
    main()
