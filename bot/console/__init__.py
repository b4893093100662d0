"""The agents' console: a web front (aiohttp + Jinja2, DSFR) that talks to the service over HTTP like the bot."""
