// The published conformance suite (@convnet/tensor/testing) for the backends registered here (`cpu`): every
// kernel on seeded random cases against `ref`, within atol + rtol·|ref| (tolerance grows with the reduction length).
import { describeConformance } from '../src/testing/index.js';

describeConformance();
