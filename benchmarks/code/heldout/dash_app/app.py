import dash
from dash import dcc, html
from transformers import pipeline

summarizer = pipeline("summarization")
app = dash.Dash(__name__)
app.layout = html.Div([dcc.Textarea(id="doc"), html.Div(id="summary")])

if __name__ == "__main__":
    app.run_server(host="0.0.0.0", debug=True)
