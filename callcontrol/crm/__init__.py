"""The CRM data layer: models, migrations, phone normalisation, look-ups, users and seeding."""
