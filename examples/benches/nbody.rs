jouletrace::main!();
