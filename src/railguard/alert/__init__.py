"""railguard.alert"""
