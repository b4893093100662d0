"""The internal account service: accounts, students, guardian links, sessions, merges, outbox."""
