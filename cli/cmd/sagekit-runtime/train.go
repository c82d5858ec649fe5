package main

import "context"

func runTrain(ctx context.Context, args []string) int { return 2 }
