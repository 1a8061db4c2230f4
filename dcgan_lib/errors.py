"""The one exception type users see: a one-line message that says what to do."""


class DCGANError(Exception):
    """A problem the user can fix; the CLI prints its message as one line and exits non-zero."""


class DatasetError(DCGANError):
    """Data is missing, unreadable or of the wrong shape."""


class CheckpointError(DCGANError):
    """A checkpoint is missing, corrupt or of another architecture."""


class TrainingDiverged(DCGANError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class ImageSizeError(DatasetError, ValueError):
    """An image size the DCGAN models cannot have (also a ValueError, for code that checks arguments)."""
