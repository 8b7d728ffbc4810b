"""railguard.trace"""
