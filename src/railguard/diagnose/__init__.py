"""railguard.diagnose"""
