"""The gettext catalogs, installed as the package `rattacher_locales` (see pyproject.toml and conversations.i18n)."""
