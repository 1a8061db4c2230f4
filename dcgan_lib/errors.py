"""The one exception type users see: a one-line message that says what to do (and Ctrl-C with a note of what was kept)."""


class DCGANError(Exception):
    """A problem the user can fix; the CLI prints its message as one line and exits non-zero."""


class DatasetError(DCGANError):
    """Data is missing, unreadable or of the wrong shape."""


class CheckpointError(DCGANError):
    """A checkpoint is missing, corrupt or of another architecture."""


class TrainingDiverged(DCGANError):
    """A loss, a weight, a BatchNorm statistic or Adam's state became NaN or infinite; the last finite
    checkpoint is kept."""


class ImageSizeError(DatasetError, ValueError):
    """An image size the DCGAN models cannot have (also a ValueError, for code that checks arguments)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run, with one line saying what is kept. A KeyboardInterrupt, so a notebook cell and a
    script stop exactly as they would without it."""
