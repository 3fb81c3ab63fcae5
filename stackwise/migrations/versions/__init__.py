"""The revisions, oldest first: 0001 is the schema of the release before issue 16, 0002 adds the tables since."""
