"""The test suite, a package: helpers (fakegemini, imaging, servekit ...) import relatively.

Being a package, every test module is imported under `tests.` and its helpers as
`tests.<helper>`, one module each however many test files use them, and a helper's name
cannot shadow an installed package of the same name.
"""
