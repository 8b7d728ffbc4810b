"""railguard.integrations"""
