"""Read raw news articles, strip page furniture, extract metadata and split into offset-tracked chunks."""
