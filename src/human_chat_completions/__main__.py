from human_chat_completions.cli import main

main()
