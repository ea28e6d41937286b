"""The dump runner: what a backup Job runs to dump one tenant schema to a verified file."""
