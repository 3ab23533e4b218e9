namespace EdgeCompile.Runtime;

/// <summary>An activation fused into a kernel (<c>Dense</c>, <c>Conv2d</c>).</summary>
public enum Activation
{
    /// <summary>No activation: the identity.</summary>
    None,
    /// <summary><c>max(0, x)</c>.</summary>
    Relu,
    /// <summary>Exact GELU, <c>0.5x(1+erf(x/√2))</c>.</summary>
    Gelu,
    /// <summary>GELU, tanh approximation.</summary>
    GeluTanh,
    /// <summary>Hyperbolic tangent.</summary>
    Tanh,
    /// <summary>Logistic sigmoid.</summary>
    Sigmoid,
    /// <summary><c>x·sigmoid(x)</c>.</summary>
    Silu,
}
