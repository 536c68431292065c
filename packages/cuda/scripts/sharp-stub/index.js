// The device-check bundle carries no libvips: importing sharp works, its default export is absent, so code that
// would decode images fails at the call and the trainer's report skips its PNG.
export default undefined;
