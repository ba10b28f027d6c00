from moss.cli import run

run()
