"""Exit codes shared by every management command (SPEC section 6)."""

BAD_ARGUMENTS = 2  # a CommandError about what was asked for
RUNTIME_FAILURE = 1  # something went wrong while doing it
