"""Volunteer service (志愿服务): activities, sign-up, verified check-in and hours, certificates,
recommendation, benefits and mass mobilisation."""
