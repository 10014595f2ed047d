"""The test bench for programs that use card readers: a private pcscd with vpcd readers
(`pcscd`), a watcher of its readers (`observer`), the client of `sscard emulate --control`
(`client`) and, loaded with `pytest -p sscard.testing`, the pytest fixtures (`plugin`)."""
