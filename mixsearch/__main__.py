from mixsearch.cli import main

main()
