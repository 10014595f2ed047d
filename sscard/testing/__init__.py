"""The test bench for programs that use card readers: a private pcscd with vpcd readers
(`pcscd`), a watcher of its readers (`observer`), a whole bench in one object (`stack`), the
client of `sscard emulate --control` (`client`) and, loaded with `pytest -p sscard.testing`,
the pytest fixtures (`plugin`)."""

import sys

if "pytest" in sys.modules:  # loaded as a pytest plugin (or next to pytest): its fixtures
    from sscard.testing.plugin import (  # noqa: F401  (re-exported for `-p sscard.testing`)
        pcsc_bench,
        pytest_addoption,
        virtual_reader,
        virtual_readers,
    )
