package main

import "context"

func runServe(ctx context.Context, args []string) int { return 2 }
