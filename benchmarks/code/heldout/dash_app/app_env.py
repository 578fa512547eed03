import os

import dash
from dash import html

app = dash.Dash(__name__)
app.layout = html.Div("ok")

if __name__ == "__main__":
    app.run_server(debug=os.getenv("DASH_DEBUG", "false").lower() == "true")
