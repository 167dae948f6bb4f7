"""The recipe: the YAML file that describes a study, validated by one pydantic schema, one module per section."""
