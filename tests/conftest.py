import sys
from pathlib import Path

# tests/support (fakes of the ports, helpers, PayPal's documented shapes) is shared by unit and
# integration tests, imported as the package `support`.
sys.path.insert(0, str(Path(__file__).parent))
