from gankit.cli import main

main()
