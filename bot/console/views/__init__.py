"""The console's pages: each module exposes `add_routes(app)`; `bot.console.app.VIEWS` lists them."""
