//! A bench that registers nothing (the mistake of putting candidates in a library the bench never
//! links): it must say so and fail, not pass with zero tests.

jouletrace::main!();
