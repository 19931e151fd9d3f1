"""A blog app: the articles that feed the related-articles index in the tests."""
