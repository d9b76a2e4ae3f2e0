"""Rural training (为村耕耘者) and science quizzes (科普答题): courses that work offline,
accredited institutions' classes against yearly targets, credentials into the core registry,
and quiz campaigns for millions with leaderboards."""
