"""WhatsApp Business through the Cloud API: replies in the 24-hour window, signed webhooks."""
