"""The version of eegzip, where every layer can read it without importing the package root
(which imports the API, and so the whole pipeline)."""

__version__ = "0.1.0"
