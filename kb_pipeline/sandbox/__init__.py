"""A local, faithful imitation of the four vendors' knowledge-base APIs on one HTTP port."""
