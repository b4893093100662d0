"""The guided dialogs, channel-agnostic: state, steps, validation, retries, timeouts."""
