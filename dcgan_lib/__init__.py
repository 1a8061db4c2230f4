"""dcgan_lib: the importable half of the DCGAN course (Radford, Metz & Chintala, 2015)."""

__version__ = "0.1.0"
