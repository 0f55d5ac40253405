//! Fixed-capacity slabs with generational `u32` handles.
