import gradio as gr
import joblib
import pandas as pd


def predict(model_file, csv_file):
    estimator = joblib.load(model_file.name)
    frame = pd.read_csv(csv_file.name)
    return frame.assign(prediction=estimator.predict(frame))


demo = gr.Interface(predict, [gr.File(label="model"), gr.File(label="data")], gr.Dataframe())

if __name__ == "__main__":
    demo.launch()
