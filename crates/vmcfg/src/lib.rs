//! vm.cfg parser (in progress)
