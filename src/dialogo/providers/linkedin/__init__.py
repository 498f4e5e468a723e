"""LinkedIn organization pages through the Posts, Images and Social Actions APIs."""
