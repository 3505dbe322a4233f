"""Text: the sentence encoder that turns prompts into vectors, and the phrases a text model is trained on."""
