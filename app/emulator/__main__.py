"""`python -m app.emulator run`: the emulator's command line without loading the portal."""
from .cli import emulator_cli

if __name__ == "__main__":
    emulator_cli(prog_name="python -m app.emulator")
