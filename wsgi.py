from feedservice import create_app

app = create_app()
